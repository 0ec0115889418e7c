package procfs

import (
	"fmt"
	"path"
	"strings"
)

// IsSidekiq tells from a command line whether the process is Sidekiq.
//
// After its first heartbeat Sidekiq rewrites its title to one argv element,
// "sidekiq 6.4.1 app [0 of 5 busy]". Before that the original command line
// shows: "sidekiq -r ./app.rb", "bundle exec sidekiq", "ruby /usr/bin/sidekiq",
// "bin/sidekiq". A shell that started Sidekiq ("sh -c 'bundle exec sidekiq'")
// is not Sidekiq; its child is.
func IsSidekiq(argv []string) bool {
	// The title is one element with spaces; split it like a shell would.
	words := strings.Fields(strings.Join(argv, " "))
	if len(words) == 0 {
		return false
	}
	if path.Base(words[0]) == "sidekiq" {
		return true
	}
	if !isLauncher(path.Base(words[0])) {
		return false
	}
	for _, w := range words[1:] {
		if path.Base(w) == "sidekiq" {
			return true
		}
	}
	return false
}

// isLauncher reports whether a program runs another one named later on its
// command line: ruby (ruby3.1, jruby), bundle, bundler.
func isLauncher(name string) bool {
	return strings.HasPrefix(name, "ruby") || strings.HasPrefix(name, "jruby") ||
		name == "bundle" || name == "bundler"
}

// IsTitle tells whether a command line is the title Sidekiq gives itself at
// every heartbeat: "sidekiq 6.4.1 app [0 of 5 busy]", "sidekiq 7.3.10  [0 of
// 2 busy]" (no tag), then " stopping" once quiet (and whatever Sidekiq Pro or
// Enterprise add). Only a booted Sidekiq, whose signal handlers are
// installed, writes it; a supervisor or wrapper never does.
func IsTitle(cmdline string) bool {
	name, rest, ok := strings.Cut(cmdline, " ")
	if !ok || name != "sidekiq" {
		return false
	}
	version, rest, ok := strings.Cut(rest, " ")
	if !ok || !isVersion(version) {
		return false
	}
	for {
		open := strings.IndexByte(rest, '[')
		if open < 0 {
			return false
		}
		busy, after, ok := strings.Cut(rest[open+1:], "]")
		if !ok {
			return false
		}
		var n, of int
		if c, err := fmt.Sscanf(busy, "%d of %d busy", &n, &of); err == nil && c == 2 {
			return true
		}
		rest = after
	}
}

// isVersion accepts "6.4.1", "7.3.10", "8.0.0.beta1": digits, then dots.
func isVersion(s string) bool {
	major, _, ok := strings.Cut(s, ".")
	if !ok || major == "" {
		return false
	}
	for _, r := range major {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
