package procfs

import (
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
