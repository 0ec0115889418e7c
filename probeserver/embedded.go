package probeserver

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// An embedded Sidekiq (Sidekiq.configure_embed, 7+: info.embedded true) runs
// as threads of another server, Puma for one. It cannot be quieted: its
// launcher ignores the "-signals" list and raises on quiet!, and TSTP goes to
// the host server, which may not trap it (a process that does not is
// stopped). So the sidecar never signals nor drains it, and says so.
//
// /proc shows the host under its own title, never as Sidekiq, so it is found
// through Redis: while /proc shows no Sidekiq, looks scan "processes" for any
// identity of this pod's hostname whose hash says embedded and whose pid is
// alive here (and started before the hash). Once found, its hash is read in
// the one pipeline of every look, until its pid is gone.

// statusUnsupported is the status of every answer about a pod whose Sidekiq
// the sidecar cannot manage.
const statusUnsupported = "unsupported"

// findEmbedded scans for the embedded Sidekiqs of the pod and remembers them.
func (o *Observer) findEmbedded(ctx context.Context, s *Snapshot) error {
	candidates, complete, err := o.scan(ctx, nil)
	if err != nil || !complete || len(candidates) == 0 {
		return err
	}
	reads, err := o.pipeline(ctx, candidates)
	if err != nil {
		return err
	}
	for i, id := range candidates {
		p, ok := o.hostOf(id)
		if !ok {
			continue
		}
		if o.fill(&p, reads[i]); p.Heartbeat != nil && p.Heartbeat.Embedded {
			s.Embedded = append(s.Embedded, p)
			o.rememberIn(&o.embedded, p)
		}
	}
	return nil
}

// hostOf is the live process of the pod that identity "host:pid:nonce" names.
func (o *Observer) hostOf(identity string) (Process, bool) {
	rest, _ := strings.CutPrefix(identity, o.Hostname+":")
	pidText, _, _ := strings.Cut(rest, ":")
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid == o.Self {
		return Process{}, false
	}
	proc, ok := o.Proc.Lookup(pid)
	return Process{Process: proc, Identity: identity}, ok
}

// knownEmbedded are the embedded Sidekiqs found earlier whose host is still
// the same process; the others are forgotten.
func (o *Observer) knownEmbedded() []Process {
	o.mu.Lock()
	defer o.mu.Unlock()
	var found []Process
	for pid, k := range o.embedded {
		proc, ok := o.Proc.Lookup(pid)
		if !ok || !proc.Started.Equal(k.started) {
			delete(o.embedded, pid)
			continue
		}
		found = append(found, Process{Process: proc, Identity: k.identity})
	}
	return found
}

// embeddedVerdict is the answer for a pod with an embedded Sidekiq, when it
// has one: "unsupported", with ok as the HTTP outcome. Startup, liveness and
// readiness pass (ok): failing startup or liveness would restart the host in
// a loop, since a restart cannot make it supported, and each restart would
// cut the host's web requests and its running jobs with no drain first;
// failing readiness would take a web server out of its Service. /prestop
// fails (not ok), so the kubelet records a FailedPreStopHook event saying
// nothing was drained, and goes on to SIGTERM at once.
func embeddedVerdict(s Snapshot, ok bool) (Verdict, bool) {
	if len(s.Embedded) == 0 {
		return Verdict{}, false
	}
	p := s.Embedded[0]
	host := "pid " + strconv.Itoa(p.PID)
	if words := strings.Fields(p.Cmdline); len(words) > 0 {
		host = fmt.Sprintf("%s, pid %d", words[0], p.PID)
	}
	return Verdict{OK: ok, Status: statusUnsupported, Process: p.Name(), Reason: fmt.Sprintf(
		"embedded Sidekiq (inside %s) is not supported: it cannot be quieted nor drained, and is not probed; run Sidekiq as its own process", host)}, true
}
