package cluster

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// killContainers kills what is left of pods after the kubelet and
// containerd are gone (only after a crash: pods deleted through the API
// leave nothing): every process in the kubelet's pod cgroups, then the
// containerd shims.
func killContainers(shim string) {
	for _, dir := range podCgroups() {
		procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		for _, f := range strings.Fields(string(procs)) {
			if pid, err := strconv.Atoi(f); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); exe == shim {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// podCgroups lists the kubelet's cgroups ("kubepods" under each cgroup v1
// controller), deepest first so they can be removed in this order.
func podCgroups() []string {
	var dirs []string
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods")
	for _, root := range roots {
		filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
	}
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	return dirs
}

// removeCgroups removes the kubelet's cgroups once no process is left in them.
func removeCgroups() error {
	for _, dir := range podCgroups() {
		if err := syscall.Rmdir(dir); err != nil && err != syscall.ENOENT {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
	}
	return nil
}

// unmountUnder detaches every mount below dir (container root filesystems,
// network namespaces, volumes), deepest first.
func unmountUnder(dir string) error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	defer f.Close()
	var mounts []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			mounts = append(mounts, fields[4])
		}
	}
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i]) > len(mounts[j]) })
	for _, m := range mounts {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && err != syscall.EINVAL && err != syscall.ENOENT {
			return fmt.Errorf("unmount %s: %w", m, err)
		}
	}
	return sc.Err()
}

// hostLeftovers are paths outside the state folder that containerd and the
// kubelet create whatever they are configured with.
var hostLeftovers = []string{
	"/run/containerd/s",
	"/run/containerd/fifo",
	"/run/containerd/runc",
	"/var/lib/kubelet/device-plugins",
	// libcni's cache of each pod's network setup.
	"/var/lib/cni/results",
}

func removeHostLeftovers() error {
	for _, p := range hostLeftovers {
		if err := os.RemoveAll(p); err != nil {
			return err
		}
		// The parent too, when nothing else is in it.
		syscall.Rmdir(filepath.Dir(p))
	}
	return nil
}
