package procfs

import (
	"os"
	"reflect"
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
		{PID: 7, Cmdline: "sidekiq 6.4.1 app [0 of 5 busy]", Started: boot.Add(2500 * time.Second)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Sidekiqs() =\n%+v\nwant\n%+v", got, want)
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
