package procfs

import (
	"os"
	"reflect"
	"syscall"
	"testing"
	"time"
)

func TestSidekiqs_FixtureTree(t *testing.T) {
	got, err := FS{Root: "testdata/proc"}.Sidekiqs(30)
	if err != nil {
		t.Fatal(err)
	}
	boot := time.Unix(1700000000, 0)
	want := []Process{
		{PID: 12, Cmdline: "bundle exec sidekiq -C config/sidekiq.yml", Started: boot.Add(2501 * time.Second)},
		{PID: 20, Cmdline: "ruby /usr/bin/sidekiq -r ./app.rb", Started: boot.Add(2502 * time.Second)},
		{PID: 61, Cmdline: "sidekiq 6.4.1 app [1 of 2 busy]", Started: boot.Add(2504100 * time.Millisecond)},
		{PID: 62, Cmdline: "sidekiq -r ./app.rb", Started: boot.Add(2504200 * time.Millisecond)},
		{PID: 7, Cmdline: "sidekiq 6.4.1 app [0 of 5 busy]", Started: boot.Add(2500 * time.Second)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Sidekiqs() =\n%+v\nwant\n%+v", got, want)
	}
}

// pid 60 ("ruby bin/sidekiq --workers 2") looks like Sidekiq by its command
// line but started 61 and 62: it is their supervisor, not a worker.
func TestSidekiqs_LeavesOutTheParentOfSidekiqs(t *testing.T) {
	got, err := FS{Root: "testdata/proc"}.Sidekiqs(30)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range got {
		if p.PID == 60 {
			t.Errorf("listed the supervisor %+v", p)
		}
	}
}

func TestSidekiqs_MissingRootIsAnError(t *testing.T) {
	if _, err := (FS{Root: "testdata/nothing"}).Sidekiqs(1); err == nil {
		t.Error("want an error for a missing /proc root")
	}
}

func TestSidekiqs_RealProcFindsNoSidekiqInTheTestBinary(t *testing.T) {
	got, err := FS{Root: "/proc"}.Sidekiqs(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range got {
		if p.PID == os.Getpid() {
			t.Errorf("listed itself: %+v", p)
		}
		if p.Started.After(time.Now()) || p.Started.Before(time.Unix(1500000000, 0)) {
			t.Errorf("implausible start time for %+v", p)
		}
	}
}

func TestAlive(t *testing.T) {
	tests := map[string]struct {
		pid  int
		want bool
	}{
		"a sleeping process is alive": {pid: 7, want: true},
		"a zombie is not alive":       {pid: 50, want: false},
		"a missing pid is not alive":  {pid: 99, want: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := (FS{Root: "testdata/proc"}).Alive(tc.pid); got != tc.want {
				t.Errorf("Alive(%d) = %v, want %v", tc.pid, got, tc.want)
			}
		})
	}
}

func TestIsSidekiq(t *testing.T) {
	tests := map[string]struct {
		argv []string
		want bool
	}{
		"the title Sidekiq sets at its first heartbeat": {argv: []string{"sidekiq 6.4.1 app [3 of 5 busy]"}, want: true},
		"a quiet Sidekiq's title":                       {argv: []string{"sidekiq 7.3.10 app [0 of 5 busy] stopping"}, want: true},
		"the plain command before the first heartbeat":  {argv: []string{"sidekiq", "-r", "./app.rb"}, want: true},
		"bundle exec sidekiq":                           {argv: []string{"bundle", "exec", "sidekiq", "-C", "x.yml"}, want: true},
		"ruby running the sidekiq script":               {argv: []string{"ruby", "/usr/bin/sidekiq"}, want: true},
		"a versioned ruby running bin/sidekiq":          {argv: []string{"/usr/bin/ruby3.1", "bin/sidekiq"}, want: true},
		"the shell that started Sidekiq":                {argv: []string{"sh", "-c", "bundle exec sidekiq"}, want: false},
		"the probe sidecar itself":                      {argv: []string{"/sidekiq-probe", "--port=7433"}, want: false},
		"a rails server":                                {argv: []string{"bundle", "exec", "rails", "server"}, want: false},
		"a kernel thread with no command line":          {argv: nil, want: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := IsSidekiq(tc.argv); got != tc.want {
				t.Errorf("IsSidekiq(%q) = %v, want %v", tc.argv, got, tc.want)
			}
		})
	}
}

func TestCatches(t *testing.T) {
	tests := map[string]struct {
		pid     int
		sig     syscall.Signal
		want    bool
		wantErr bool
	}{
		"a booted Sidekiq 6.4.1 traps TSTP":              {pid: 7, sig: syscall.SIGTSTP, want: true},
		"Ruby's own handlers include USR1":               {pid: 7, sig: syscall.SIGUSR1, want: true},
		"a Sidekiq still booting does not trap TSTP yet": {pid: 62, sig: syscall.SIGTSTP, want: false},
		"a supervisor that never traps TSTP":             {pid: 60, sig: syscall.SIGTSTP, want: false},
		"a SigCgt that is not hex is an error":           {pid: 12, sig: syscall.SIGTSTP, wantErr: true},
		"a process without status is an error":           {pid: 20, sig: syscall.SIGTSTP, wantErr: true},
		"a signal number out of range is an error":       {pid: 7, sig: syscall.Signal(65), wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := FS{Root: "testdata/proc"}.Catches(tc.pid, tc.sig)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("Catches(%d, %v) = %v, %v; want %v, error %v", tc.pid, tc.sig, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestCatches_RealProcessTrapsWhatItTraps(t *testing.T) {
	// The Go runtime catches SIGURG for preemption.
	got, err := FS{Root: "/proc"}.Catches(os.Getpid(), syscall.SIGURG)
	if err != nil || !got {
		t.Errorf("Catches(self, SIGURG) = %v, %v; want true", got, err)
	}
}

func TestState(t *testing.T) {
	tests := map[string]struct {
		pid  int
		want byte
	}{
		"a sleeping process":                 {pid: 7, want: 'S'},
		"a process stopped by TSTP":          {pid: 62, want: 'T'},
		"a name with spaces and parentheses": {pid: 20, want: 'S'},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got, err := (FS{Root: "testdata/proc"}).State(tc.pid); err != nil || got != tc.want {
				t.Errorf("State(%d) = %q, %v; want %q", tc.pid, got, err, tc.want)
			}
		})
	}
}

func TestIsTitle(t *testing.T) {
	tests := map[string]struct {
		cmdline string
		want    bool
	}{
		"Sidekiq 6.4.1's title":                  {cmdline: "sidekiq 6.4.1 app [0 of 2 busy]", want: true},
		"Sidekiq 7.3.10 without a tag":           {cmdline: "sidekiq 7.3.10  [0 of 2 busy]", want: true},
		"Sidekiq 8.1.7, quiet":                   {cmdline: "sidekiq 8.1.7 myapp [1 of 2 busy] stopping", want: true},
		"a tag with brackets of its own":         {cmdline: "sidekiq 7.3.10 [eu] [3 of 10 busy]", want: true},
		"the command before the first heartbeat": {cmdline: "sidekiq -r ./app.rb", want: false},
		"bundle exec sidekiq":                    {cmdline: "bundle exec sidekiq -C config/sidekiq.yml", want: false},
		"a supervisor named sidekiq":             {cmdline: "ruby bin/sidekiq --workers 2", want: false},
		"sidekiq-cluster":                        {cmdline: "ruby bin/sidekiq-cluster default,mailers", want: false},
		"no version":                             {cmdline: "sidekiq app [0 of 2 busy]", want: false},
		"no busy count":                          {cmdline: "sidekiq 6.4.1 app [stopping]", want: false},
		"an unclosed bracket":                    {cmdline: "sidekiq 6.4.1 app [0 of 2 busy", want: false},
		"empty":                                  {cmdline: "", want: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := IsTitle(tc.cmdline); got != tc.want {
				t.Errorf("IsTitle(%q) = %v, want %v", tc.cmdline, got, tc.want)
			}
		})
	}
}
