package probeserver

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sidekiq-probe.io/sidekiq-probe/contract"
	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/internal/testsidekiq"
	"sidekiq-probe.io/sidekiq-probe/probeserver/procfs"
)

func TestDrainRun_Deadline(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	tests := map[string]struct {
		acks []time.Duration // after preStop
		want time.Duration
	}{
		"nothing acknowledged: max-job-seconds after preStop":     {want: 60 * time.Second},
		"a signal at once: max-job-seconds after it":              {acks: []time.Duration{0}, want: 60 * time.Second},
		"a push taken 8 s later: counted from there":              {acks: []time.Duration{8 * time.Second}, want: 68 * time.Second},
		"the latest acknowledgement counts":                       {acks: []time.Duration{2 * time.Second, 9 * time.Second}, want: 69 * time.Second},
		"an acknowledgement after maxAckDelay gives no more time": {acks: []time.Duration{40 * time.Second}, want: 60*time.Second + maxAckDelay},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := &drainRun{s: &Server{cfg: Config{MaxJobTime: time.Minute}}, start: start, procs: map[processKey]*quieting{}}
			r.procs[processKey{pid: 99}] = nil // a process not quieted yet
			for i, a := range tc.acks {
				r.procs[processKey{pid: i}] = &quieting{viaRedis: true, ackedAt: start.Add(a)}
			}
			if got := r.deadline().Sub(start); got != tc.want {
				t.Errorf("deadline = preStop + %v, want + %v", got, tc.want)
			}
		})
	}
}

// The pod's grace period is max-job-seconds + Sidekiq's shutdown timeout +
// the margin: a drain counted from a late acknowledgement must fit in it.
func TestMaxAckDelay_FitsTheGraceMargin(t *testing.T) {
	if maxAckDelay >= 15*time.Second {
		t.Errorf("maxAckDelay %v leaves no room in the 15 s grace margin", maxAckDelay)
	}
}

func TestDrainRun_Wait(t *testing.T) {
	beat := time.Unix(1_800_000_000, 0)
	hb := func(quiet bool) *Heartbeat { return &Heartbeat{Beat: beat, Quiet: quiet} }
	tests := map[string]struct {
		q        *quieting
		hb       *Heartbeat
		jobs     int
		redisErr error
		want     string
	}{
		"not quieted yet":                                 {hb: hb(false), want: "not quieted yet"},
		"pushed, not taken":                               {q: &quieting{viaRedis: true}, hb: hb(false), want: "not taken yet"},
		"taken at a beat with no job":                     {q: &quieting{viaRedis: true, ackedAt: beat, ackIdle: true}, hb: hb(false), jobs: 0, want: ""},
		"taken at a beat with no job, redis gone since":   {q: &quieting{viaRedis: true, ackedAt: beat, ackIdle: true}, redisErr: errRedis, want: ""},
		"taken at a beat with a job: the next beat tells": {q: &quieting{viaRedis: true, ackedAt: beat}, hb: hb(false), jobs: 1, want: "not quiet yet"},
		"a quiet beat still running a job":                {q: &quieting{ackedAt: beat}, hb: hb(true), jobs: 2, want: "2 jobs running"},
		"a quiet beat with no job":                        {q: &quieting{ackedAt: beat}, hb: hb(true), want: ""},
		"signalled, no quiet beat yet":                    {q: &quieting{ackedAt: beat}, hb: hb(false), want: "not quiet yet"},
		"signalled, redis unreachable":                    {q: &quieting{ackedAt: beat}, redisErr: errRedis, want: "redis unreachable"},
		"signalled, hash gone":                            {q: &quieting{ackedAt: beat}, want: "no heartbeat"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := Process{Process: procfs.Process{PID: 7}, Heartbeat: tc.hb, Jobs: tc.jobs}
			r := &drainRun{procs: map[processKey]*quieting{keyOf(p): tc.q}, noted: map[processKey]string{}}
			got := r.wait(p, tc.redisErr)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("wait = %q, want %q", got, tc.want)
			}
		})
	}
}

var errRedis = syscall.ECONNREFUSED

// watchStates records every state letter pids go through until stop is
// closed: a process stopped by TSTP shows 'T'.
func watchStates(pids []int, stop <-chan struct{}) func() map[int]string {
	var mu sync.Mutex
	seen := map[int]string{}
	proc := procfs.FS{Root: "/proc"}
	go func() {
		for {
			for _, pid := range pids {
				if st, err := proc.State(pid); err == nil {
					mu.Lock()
					if !strings.ContainsRune(seen[pid], rune(st)) {
						seen[pid] += string(st)
					}
					mu.Unlock()
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() map[int]string {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(seen)
	}
}

// A preStop while Sidekiq still boots (a rollout while a new pod starts):
// before Sidekiq traps TSTP, the signal would stop it (state T) with SIGTERM
// left pending until the grace period ends. The drain waits until Sidekiq
// has booted and traps it, then quiets and drains it; SIGTERM stops it.
func TestRealSidekiq_PreStopDuringBootNeverStopsSidekiq(t *testing.T) {
	t.Parallel()
	p := startPod(t, podOptions{})
	sk := testsidekiq.StartSidekiq(t, testsidekiq.Options{RedisURL: p.redis.URL, Hostname: p.hostname})
	testsidekiq.AddToPodProc(t, p.procDir, sk.PID)
	stop := make(chan struct{})
	states := watchStates([]int{sk.PID}, stop)
	if traps, err := (procfs.FS{Root: "/proc"}).Catches(sk.PID, syscall.SIGTSTP); err != nil || traps {
		t.Fatalf("sidekiq traps TSTP already (%v, %v): the test needs a preStop during boot", traps, err)
	}
	a := p.get("/prestop")
	close(stop)
	if a.code != http.StatusOK || a.verdict.Reason != "drained: no job running" {
		t.Errorf("/prestop = %d %+v", a.code, a.verdict)
	}
	if got := states()[sk.PID]; strings.Contains(got, "T") {
		t.Errorf("sidekiq went through states %q: stopped by a TSTP it did not trap", got)
	}
	testkit.Must(t, sk.Signal(syscall.SIGTERM))
	select {
	case <-sk.Exited():
	case <-time.After(20 * time.Second):
		st, _ := (procfs.FS{Root: "/proc"}).State(sk.PID)
		t.Fatalf("sidekiq (state %c) still running 20 s after SIGTERM", st)
	}
}

// A supervisor whose command line names sidekiq starts two workers and
// does not trap TSTP. preStop quiets and drains both workers and never
// signals the supervisor: none of the three is ever stopped.
func TestRealSidekiq_PreStopDrainsEveryWorkerOfASupervisorAndNeverSignalsIt(t *testing.T) {
	t.Parallel()
	p := startPod(t, podOptions{maxJobTime: 60 * time.Second})
	sup := testsidekiq.StartSupervisor(t, testsidekiq.Options{RedisURL: p.redis.URL, Hostname: p.hostname}, 2)
	all := append([]int{sup.PID}, sup.Workers...)
	for _, pid := range all {
		testsidekiq.AddToPodProc(t, p.procDir, pid)
	}
	ids := map[int]string{}
	for _, pid := range sup.Workers {
		ids[pid] = testsidekiq.WaitIdentity(t, p.rdb, pid, 30*time.Second)
	}
	p.waitCode("/readyz", http.StatusOK, 10*time.Second)
	for _, id := range []string{"job-1", "job-2"} {
		testkit.Must(t, testsidekiq.Enqueue(p.ctx(), p.rdb, 3, id))
	}
	testkit.WaitFor(t, 10*time.Second, "a job on each worker", func() bool { return len(testsidekiq.Started(p.ctx(), p.rdb)) == 2 })

	stop := make(chan struct{})
	states := watchStates(all, stop)
	a := p.get("/prestop")
	done := testsidekiq.Done(p.ctx(), p.rdb)
	time.Sleep(time.Second) // a late TSTP would stop the supervisor in this time
	close(stop)
	if a.code != http.StatusOK || a.verdict.Reason != "drained: no job running" {
		t.Errorf("/prestop = %d %+v", a.code, a.verdict)
	}
	if !slices.Contains(done, "job-1") || !slices.Contains(done, "job-2") {
		t.Errorf("/prestop returned with only %q done", done)
	}
	for pid, st := range states() {
		if strings.Contains(st, "T") {
			t.Errorf("pid %d went through states %q: stopped by TSTP", pid, st)
		}
	}
	for pid, id := range ids {
		if q := p.rdb.HGet(p.ctx(), id, "quiet").Val(); q != "true" {
			t.Errorf("worker %d: heartbeat quiet=%q, want true", pid, q)
		}
	}
	testkit.Must(t, sup.Signal(syscall.SIGTERM))
	select {
	case <-sup.Exited():
	case <-time.After(20 * time.Second):
		t.Fatal("the supervisor and its workers still run 20 s after SIGTERM")
	}
}

// When the sidecar may not signal (another UID), the signal goes through
// Redis and Sidekiq takes it at its next beat. That beat wrote busy and the
// work hash just before taking it: with no job running the drain ends
// there, a whole heartbeat before Sidekiq reports quiet.
func TestRealSidekiq_RedisDrainEndsAtTheBeatThatTakesTheSignal(t *testing.T) {
	t.Parallel()
	p := startPod(t, podOptions{signal: func(int, syscall.Signal) error { return syscall.EPERM }})
	sk := p.sidekiq(testsidekiq.Options{})
	id := sk.WaitHeartbeat(t, p.rdb, 10*time.Second)
	p.waitCode("/readyz", http.StatusOK, 10*time.Second)

	a := p.get("/prestop")
	quietAtReturn := p.rdb.HGet(p.ctx(), id, "quiet").Val()
	if a.code != http.StatusOK || a.verdict.Reason != "drained: no job running" {
		t.Fatalf("/prestop = %d %+v", a.code, a.verdict)
	}
	if n := p.rdb.LLen(p.ctx(), id+"-signals").Val(); n != 0 {
		t.Errorf("%d signals still in the list: the drain ended before Sidekiq took it", n)
	}
	if quietAtReturn != "false" {
		t.Errorf("quiet=%q when /prestop returned, want false: the drain waited for the beat after the one that took the signal", quietAtReturn)
	}
	// Sidekiq did quiet: the next beat says so, and a job pushed now stays queued.
	testkit.Must(t, testsidekiq.Enqueue(p.ctx(), p.rdb, 1, "after"))
	testkit.WaitFor(t, 15*time.Second, "the beat that reports quiet", func() bool {
		return p.rdb.HGet(p.ctx(), id, "quiet").Val() == "true"
	})
	if started := testsidekiq.Started(p.ctx(), p.rdb); len(started) != 0 {
		t.Errorf("jobs started after preStop: %q", started)
	}
}

// The drain through Redis with every version's heartbeat (the recorded
// fixtures): the test plays Sidekiq, popping "<identity>-signals" inside a
// beat as 6.4 to 8.1 do, and reporting quiet only at the beat after.
func TestRealRedis_RedisDrainEveryVersion(t *testing.T) {
	refuse := func(int, syscall.Signal) error { return syscall.EPERM }
	running := []testsidekiq.Job{{Class: "Long", RunAt: time.Now()}}
	tests := map[string]struct {
		atAck []testsidekiq.Job // running at the beat that takes the signal
		// later beats, each {quiet, jobs}, until the drain must end
		later []testsidekiq.Beat
	}{
		"idle when it takes the signal: drained at that beat": {},
		"a job when it takes the signal: drained at the quiet beat without it": {
			atAck: running,
			later: []testsidekiq.Beat{{Quiet: true, Jobs: running}, {Quiet: true}},
		},
	}
	for name, tc := range tests {
		for _, v := range testsidekiq.Versions {
			t.Run(name+"/Sidekiq "+v.Name, func(t *testing.T) {
				t.Parallel()
				p := startPod(t, podOptions{signal: refuse})
				b := p.fakeSidekiq(v, "app")
				b.Jobs = running
				p.write(v, "", b)
				p.waitCode("/readyz", http.StatusOK, 10*time.Second)
				answers := make(chan int, 1)
				go func() { answers <- p.serve(contract.PathPreStop, nil).Code }()
				signals := b.Identity() + "-signals"
				testkit.WaitFor(t, 10*time.Second, "the signal pushed", func() bool { return p.rdb.LLen(p.ctx(), signals).Val() == 1 })
				notYet(t, answers, "before any beat took the signal")

				b.Jobs, b.At = tc.atAck, time.Now()
				if sig, err := v.WriteTakingSignal(p.ctx(), p.rdb, "", b); err != nil || sig != "TSTP" {
					t.Fatalf("the beat took %q, %v; want TSTP", sig, err)
				}
				for _, next := range tc.later {
					notYet(t, answers, "with a job running at the last beat")
					b.Quiet, b.Jobs, b.At = next.Quiet, next.Jobs, time.Now()
					p.write(v, "", b)
				}
				select {
				case code := <-answers:
					if code != http.StatusOK {
						t.Errorf("/prestop = %d", code)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("/prestop did not return 10 s after the beat that allows it")
				}
			})
		}
	}
}

// notYet fails when /prestop has answered within four drain polls.
func notYet(t *testing.T, answers <-chan int, when string) {
	t.Helper()
	select {
	case code := <-answers:
		t.Fatalf("/prestop answered %d %s", code, when)
	case <-time.After(4 * drainPoll):
	}
}

// A beat after the one that took the signal still says not quiet: the list
// was emptied by something else (a Redis failover, a flush), and Sidekiq
// never got the signal. The drain pushes it again.
func TestRealRedis_RedisDrainPushesALostSignalAgain(t *testing.T) {
	t.Parallel()
	v := testsidekiq.Sidekiq73
	p := startPod(t, podOptions{signal: func(int, syscall.Signal) error { return syscall.EPERM }})
	b := p.fakeSidekiq(v, "app")
	b.Jobs = []testsidekiq.Job{{Class: "Long", RunAt: time.Now()}}
	p.write(v, "", b)
	p.waitCode("/readyz", http.StatusOK, 10*time.Second)
	answers := make(chan int, 1)
	go func() { answers <- p.serve(contract.PathPreStop, nil).Code }()
	signals := b.Identity() + "-signals"
	pushed := func() bool { return p.rdb.LLen(p.ctx(), signals).Val() == 1 }
	testkit.WaitFor(t, 10*time.Second, "the signal pushed", pushed)

	b.At = time.Now()
	if sig, err := v.WriteTakingSignal(p.ctx(), p.rdb, "", b); err != nil || sig != "TSTP" {
		t.Fatalf("the beat took %q, %v; want TSTP", sig, err)
	}
	notYet(t, answers, "with a job running at the beat that took the signal")
	b.At = time.Now() // not quiet: the signal never reached Sidekiq
	p.write(v, "", b)
	testkit.WaitFor(t, 10*time.Second, "the signal pushed again", pushed)

	b.Jobs, b.At = nil, time.Now()
	if sig, err := v.WriteTakingSignal(p.ctx(), p.rdb, "", b); err != nil || sig != "TSTP" {
		t.Fatalf("the beat took %q, %v; want TSTP", sig, err)
	}
	select {
	case code := <-answers:
		if code != http.StatusOK {
			t.Errorf("/prestop = %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("/prestop did not return 10 s after an idle beat took the signal again")
	}
}
