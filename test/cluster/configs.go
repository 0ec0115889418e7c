package cluster

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
)

// containerdConfig keeps every containerd path under the state folder. The
// settings that were needed on this kind of host are in README.md.
func containerdConfig(s layout, shim string) string {
	return fmt.Sprintf(`version = 3
root = %[1]q
state = %[2]q

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = %[5]q

[plugins.'io.containerd.cri.v1.runtime']
  # This host's root lacks CAP_SYS_RESOURCE: without this the pause
  # container fails ("can't get final child's PID from pipe: EOF").
  restrict_oom_score_adj = true
  # Network namespaces under the state folder instead of /var/run/netns.
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
    runtime_path = %[8]q
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
    BinaryName = '/usr/sbin/runc'
    Root = %[6]q
    SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ['/usr/lib/cni']
    conf_dir = %[7]q

[plugins.'io.containerd.nri.v1.nri']
  # NRI would create /var/run/nri; nothing here uses it.
  disable = true
`, s.path("containerd/root"), s.path("containerd/state"), s.containerdSocket(),
		s.containerdSocket()+".ttrpc", PauseImage, s.path("runc"), s.path("cni/net.d"), shim)
}

// cniConfig is a bridge on a private subnet. No masquerading, no port
// mapping, and not a gateway (the plugin would turn on the host's IP
// forwarding): pods reach the bridge's own address, nothing beyond.
func cniConfig(s layout) string {
	return fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "sidekiq-probe-test",
  "plugins": [{
    "type": "bridge",
    "bridge": %q,
    "isGateway": false,
    "ipMasq": false,
    "hairpinMode": true,
    "ipam": {
      "type": "host-local",
      "ranges": [[{"subnet": %q, "gateway": %q}]],
      "dataDir": %q
    }
  }]
}
`, bridgeName, podSubnet, NodeIP, s.path("cni/ipam"))
}

func kubeletConfig(s layout, port int) string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %q
port: %d
healthzPort: 0
containerRuntimeEndpoint: unix://%s
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
podLogsDir: %q
volumePluginDir: %q
resolvConf: ""
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: false
  x509:
    clientCAFile: %q
authorization:
  mode: AlwaysAllow
# A shared, busy test machine: never evict test pods or images.
evictionHard:
  memory.available: "1Mi"
  nodefs.available: "1%%"
  imagefs.available: "1%%"
  nodefs.inodesFree: "1%%"
imageGCHighThresholdPercent: 100
serializeImagePulls: false
`, NodeIP, port, s.containerdSocket(), s.path("pod-logs"), s.path("kubelet/volume-plugins"), s.path("pki/ca.crt"))
}

// writeKubeconfig writes a kubeconfig for the user whose certificate is
// pki/<user>.crt.
func writeKubeconfig(path, server string, p *pki, user string) error {
	crt, err := os.ReadFile(p.path(user + ".crt"))
	if err != nil {
		return err
	}
	key, err := os.ReadFile(p.path(user + ".key"))
	if err != nil {
		return err
	}
	b64 := base64.StdEncoding.EncodeToString
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: %s
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: local
  context:
    cluster: local
    user: %s
current-context: local
`, server, b64(p.caPEM()), user, b64(crt), b64(key), user)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(cfg), 0o600)
}
