// Package e2e installs the Helm chart, rendered by the real helm, into a real
// kube-apiserver and runs the real `sidekiq-probe-webhook serve` binary with
// the chart's own flags and the chart's ServiceAccount, so RBAC, the webhook
// configuration and the certificates are all the ones a user gets.
package e2e

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"sidekiq-probe.io/sidekiq-probe/internal/testcontrolplane"
	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

const (
	release     = "sidekiq-probe"
	namespace   = "sidekiq-probe"
	serviceName = "sidekiq-probe-webhook"
	configName  = "sidekiq-probe"
	secretName  = "sidekiq-probe-webhook-certs"
	kubeVersion = "v1.37.2"
)

// installed is the chart applied to a fresh API server, with the webhook's
// Service pointed at this machine.
type installed struct {
	cp         *testcontrolplane.ControlPlane
	deployment *appsv1.Deployment // as rendered: its args are what serve runs with
	kubeconfig string             // the chart's ServiceAccount
	admin      string             // a kubeconfig acting as a cluster admin, for kubectl
	port       int                // where the API server expects the webhook
}

// install is installOn the newest release.
func install(t *testing.T, helmArgs ...string) *installed {
	t.Helper()
	return installOn(t, testcontrolplane.Newest, helmArgs...)
}

// forEachRelease runs test on both ends of the range of Kubernetes releases
// the chart accepts, one after the other, as subtests named by version.
func forEachRelease(t *testing.T, test func(*testing.T, testcontrolplane.Release)) {
	for _, r := range testcontrolplane.Releases() {
		t.Run(r.Version, func(t *testing.T) { test(t, r) })
	}
}

// installOn renders the chart with helm for release r, applies every object
// to a new API server of that release (each must be accepted) and replaces
// the Service by an ExternalName to localhost: the API server refuses
// loopback endpoints, and the Service name must stay the one the certificate
// is issued for.
func installOn(t *testing.T, r testcontrolplane.Release, helmArgs ...string) *installed {
	t.Helper()
	cp := testcontrolplane.Start(t, testcontrolplane.WithRelease(r))
	ctx := t.Context()
	// The later --kube-version wins over render's.
	objs := render(t, append([]string{"--kube-version", r.Version}, helmArgs...)...)

	_, err := cp.Client.CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{})
	testkit.Must(t, err)
	dyn, err := dynamic.NewForConfig(cp.Config)
	testkit.Must(t, err)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cp.Client.Discovery()))
	in := &installed{cp: cp, port: testkit.FreePort(t)}
	for _, obj := range objs {
		mapping, err := mapper.RESTMapping(obj.GroupVersionKind().GroupKind(), obj.GroupVersionKind().Version)
		testkit.Must(t, err)
		res := dyn.Resource(mapping.Resource)
		var target dynamic.ResourceInterface = res
		if obj.GetNamespace() != "" {
			target = res.Namespace(obj.GetNamespace())
		}
		if _, err := target.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			t.Fatalf("the API server refused %s %s from the chart: %v", obj.GetKind(), obj.GetName(), err)
		}
		if obj.GetKind() == "Deployment" {
			in.deployment = &appsv1.Deployment{}
			testkit.Must(t, runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, in.deployment))
		}
	}
	if in.deployment == nil {
		t.Fatal("the chart rendered no Deployment")
	}

	services := cp.Client.CoreV1().Services(namespace)
	testkit.Must(t, services.Delete(ctx, serviceName, metav1.DeleteOptions{}))
	_, err = services.Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: serviceName},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost"},
	}, metav1.CreateOptions{})
	testkit.Must(t, err)
	configs := cp.Client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	config, err := configs.Get(ctx, configName, metav1.GetOptions{})
	testkit.Must(t, err)
	for i := range config.Webhooks {
		port := int32(in.port)
		config.Webhooks[i].ClientConfig.Service.Port = &port
	}
	_, err = configs.Update(ctx, config, metav1.UpdateOptions{})
	testkit.Must(t, err)

	in.kubeconfig = serviceAccountKubeconfig(t, cp, in.deployment.Spec.Template.Spec.ServiceAccountName)
	in.admin = filepath.Join(t.TempDir(), "kubeconfig")
	testkit.Must(t, os.WriteFile(in.admin, cp.KubeConfig, 0o600))
	return in
}

// render runs `helm template` on the chart and decodes every object.
func render(t *testing.T, extra ...string) []*unstructured.Unstructured {
	t.Helper()
	out := testkit.Helm(t, append([]string{"template", release, chartDir(t),
		"--namespace", namespace, "--kube-version", kubeVersion}, extra...)...)
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
			return objs
		} else if err != nil {
			t.Fatalf("decoding helm's output: %v", err)
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
}

func chartDir(t *testing.T) string {
	return filepath.Join(testkit.RepoRoot(t), "charts", "sidekiq-probe")
}

// serviceAccountKubeconfig writes a kubeconfig that acts as the chart's
// ServiceAccount, so serve runs with exactly the chart's RBAC.
func serviceAccountKubeconfig(t *testing.T, cp *testcontrolplane.ControlPlane, account string) string {
	t.Helper()
	token, err := cp.Client.CoreV1().ServiceAccounts(namespace).CreateToken(t.Context(), account,
		&authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	testkit.Must(t, err)
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = &clientcmdapi.Cluster{Server: cp.Config.Host, CertificateAuthorityData: cp.Config.CAData}
	cfg.AuthInfos["webhook"] = &clientcmdapi.AuthInfo{Token: token.Status.Token}
	cfg.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "webhook"}
	cfg.CurrentContext = "e2e"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	testkit.Must(t, clientcmd.WriteToFile(*cfg, path))
	return path
}

// replica is one running serve process.
type replica struct {
	certDir string
	health  string
	logs    *testkit.SyncBuffer
	exited  chan struct{}
	stop    func()
}

// startReplica runs a replica (see launchReplica) and waits until it is ready.
func (in *installed) startReplica(t *testing.T, port int, extra ...string) *replica {
	t.Helper()
	r := in.launchReplica(t, port, extra...)
	r.waitReady(t)
	return r
}

// launchReplica runs the serve binary with the Deployment's arguments, with
// only the addresses and the cert dir moved to this machine's temp space, and
// returns at once. Replicas share this machine, so only the one on in.port is
// called by the API server; the others still take part in managing the
// certificates. extra flags are appended last.
func (in *installed) launchReplica(t *testing.T, port int, extra ...string) *replica {
	t.Helper()
	c := in.deployment.Spec.Template.Spec.Containers[0]
	r := &replica{certDir: t.TempDir(), health: "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t)),
		logs: &testkit.SyncBuffer{}, exited: make(chan struct{})}
	args := append(append([]string{}, c.Args...), // later flags win
		"--port="+strconv.Itoa(port), "--cert-dir="+r.certDir,
		"--health-addr="+r.health, "--metrics-addr=127.0.0.1:0")
	args = append(args, extra...)
	cmd := exec.Command(serveBinary(t), args...)
	cmd.Env = append(os.Environ(), "POD_NAMESPACE="+namespace, "KUBECONFIG="+in.kubeconfig)
	cmd.Stderr = r.logs
	testkit.Must(t, cmd.Start())
	go func() { cmd.Wait(); close(r.exited) }()
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cmd.Process.Signal(os.Interrupt)
			select {
			case <-r.exited:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				<-r.exited
			}
		})
	}
	t.Cleanup(func() {
		r.stop()
		if t.Failed() {
			t.Logf("serve logs:\n%s", r.logs.Bytes())
		}
	})
	return r
}

// waitReady waits until the replica's /readyz answers 200.
func (r *replica) waitReady(t *testing.T) {
	t.Helper()
	testkit.WaitFor(t, time.Minute, "serve is ready", func() bool {
		select {
		case <-r.exited:
			t.Fatalf("serve exited:\n%s", r.logs.Bytes())
		default:
		}
		resp, err := http.Get("http://" + r.health + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// serveBinary builds cmd/sidekiq-probe-webhook once per test run.
func serveBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sidekiq-probe-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "sidekiq-probe-webhook")
		buildErr = testkit.GoBuild(binPath, "./cmd/sidekiq-probe-webhook")
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// setFailurePolicy switches the chart's webhook configuration to policy.
func setFailurePolicy(t *testing.T, client kubernetes.Interface, policy admissionregistrationv1.FailurePolicyType) {
	t.Helper()
	configs := client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	config, err := configs.Get(t.Context(), configName, metav1.GetOptions{})
	testkit.Must(t, err)
	config.Webhooks[0].FailurePolicy = ptr.To(policy)
	_, err = configs.Update(t.Context(), config, metav1.UpdateOptions{})
	testkit.Must(t, err)
}
