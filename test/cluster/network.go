package cluster

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os/exec"
	"strings"
)

// createBridge makes the CNI bridge before the first pod does, because the
// API server and the kubelet listen on its address (NodeIP). The CNI bridge
// plugin adopts an existing bridge that already has the gateway address.
func createBridge(ctx context.Context) error {
	for _, args := range [][]string{
		{"link", "add", bridgeName, "type", "bridge"},
		{"addr", "add", NodeIP + "/16", "dev", bridgeName},
		{"link", "set", bridgeName, "up"},
	} {
		if err := run(ctx, "", "ip", args...); err != nil {
			return err
		}
	}
	return nil
}

// bridgeExists reports whether the bridge is there (ours, or another
// cluster's: only one such cluster can run on a machine).
func bridgeExists() bool {
	return exec.Command("ip", "link", "show", bridgeName).Run() == nil
}

// removeNetwork deletes the pods' veths, the bridge and the iptables chains
// the kubelet makes (KUBE-*) and CNI plugins could make (CNI-*). Pods that
// were deleted through the API leave none of these; a crashed run does.
func removeNetwork(ctx context.Context) error {
	out, _ := exec.CommandContext(ctx, "ip", "-o", "link", "show", "master", bridgeName).Output()
	for _, line := range strings.Split(string(out), "\n") {
		// "7: veth1234@if2: <...>": the name sits between the first ": " and "@".
		f := strings.SplitN(line, ": ", 3)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(f[1], "@")
		exec.CommandContext(ctx, "ip", "link", "del", name).Run()
	}
	if bridgeExists() {
		if err := run(ctx, "", "ip", "link", "del", bridgeName); err != nil {
			return err
		}
	}
	for _, tool := range []string{"iptables", "ip6tables"} {
		for _, table := range []string{"filter", "nat", "mangle"} {
			if err := removeChains(ctx, tool, table); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeChains deletes the rules jumping to KUBE-/CNI- chains, then the
// chains themselves, in one table.
func removeChains(ctx context.Context, tool, table string) error {
	out, err := exec.CommandContext(ctx, tool+"-save", "-t", table).Output()
	if err != nil {
		return nil // no such table on this host: nothing to remove
	}
	ours := func(chain string) bool {
		return strings.HasPrefix(chain, "KUBE-") || strings.HasPrefix(chain, "CNI-")
	}
	var chains []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := splitRule(sc.Text())
		switch {
		case len(f) > 0 && strings.HasPrefix(f[0], ":") && ours(f[0][1:]):
			chains = append(chains, f[0][1:])
		case len(f) > 3 && f[0] == "-A" && !ours(f[1]) && jumpsToOurs(f, ours):
			// A rule in a built-in chain: delete it by its exact spec.
			args := append([]string{"-t", table, "-D"}, f[1:]...)
			if err := run(ctx, "", tool, args...); err != nil {
				return err
			}
		}
	}
	for _, c := range chains {
		if err := run(ctx, "", tool, "-t", table, "-F", c); err != nil {
			return err
		}
	}
	for _, c := range chains {
		if err := run(ctx, "", tool, "-t", table, "-X", c); err != nil {
			return err
		}
	}
	return nil
}

func jumpsToOurs(rule []string, ours func(string) bool) bool {
	for i := 0; i+1 < len(rule); i++ {
		if (rule[i] == "-j" || rule[i] == "-g") && ours(rule[i+1]) {
			return true
		}
	}
	return false
}

// splitRule splits an iptables-save line into arguments; the kubelet's rules
// carry comments in double quotes, which stay one argument.
func splitRule(line string) []string {
	var args []string
	var cur strings.Builder
	quoted, inArg := false, false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '"':
			quoted, inArg = !quoted, true
		case c == '\\' && quoted && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case c == ' ' && !quoted:
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteByte(c)
			inArg = true
		}
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args
}

// freePorts asks the kernel for n distinct free ports on host. Another
// program could take one before we bind it; unlikely on a test machine.
// FreePort is a port free on host, such as NodeIP for a service pods use.
func FreePort(host string) (int, error) {
	ports, err := freePorts(host, 1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

func freePorts(host string, n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
