package cluster

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// leftovers lists what a stopped cluster must not leave on the machine.
func leftovers(state string) []string {
	var found []string
	if _, err := os.Stat(state); err == nil {
		found = append(found, "state folder "+state)
	}
	if mounts, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		sc := bufio.NewScanner(strings.NewReader(string(mounts)))
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) > 4 && strings.HasPrefix(f[4], state) {
				found = append(found, "mount "+f[4])
			}
		}
	}
	if links, _ := exec.Command("ip", "-o", "link", "show").Output(); len(links) > 0 {
		for _, line := range strings.Split(string(links), "\n") {
			if strings.Contains(line, bridgeName) || strings.Contains(line, ": veth") {
				found = append(found, "link "+line)
			}
		}
	}
	if netns, _ := os.ReadDir("/var/run/netns"); len(netns) > 0 {
		found = append(found, "network namespaces in /var/run/netns")
	}
	for _, tool := range []string{"iptables-save", "ip6tables-save"} {
		rules, _ := exec.Command(tool).Output()
		for _, line := range strings.Split(string(rules), "\n") {
			if strings.Contains(line, "KUBE-") || strings.Contains(line, "CNI-") {
				found = append(found, tool+": "+line)
			}
		}
	}
	if cgroups, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods"); len(cgroups) > 0 {
		found = append(found, "cgroups "+strings.Join(cgroups, " "))
	}
	for _, p := range hostLeftovers {
		if _, err := os.Stat(p); err == nil {
			found = append(found, "host path "+p)
		}
	}
	found = append(found, leftoverProcesses(state)...)
	return found
}

// leftoverProcesses lists processes started for this cluster (their command
// line names its state folder: other tests may run the same binaries), and
// processes in a pod's cgroup (containers, whatever their binary).
func leftoverProcesses(state string) []string {
	var found []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		cgroup, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cgroup"))
		if strings.Contains(string(cmdline), state) || strings.Contains(string(cgroup), "/kubepods") {
			found = append(found, "process "+e.Name()+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return found
}
