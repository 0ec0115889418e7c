package webhook

import (
	"path"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// sidekiqWords returns the words of the command that runs Sidekiq in c —
// from the word "sidekiq" up to the end of that command — or nil when c does
// not run Sidekiq. Scripts given to "sh -c" or "bash -c" are split into
// words too, so "bundle exec sidekiq -t 40 && echo done" is found.
func sidekiqWords(c *corev1.Container) []string {
	argv := append(append([]string{}, c.Command...), c.Args...)
	words := expandShell(argv)
	for i, w := range words {
		if path.Base(w) != "sidekiq" {
			continue
		}
		end := i + 1
		for end < len(words) && !isShellOperator(words[end]) {
			end++
		}
		return words[i:end]
	}
	return nil
}

// expandShell replaces the script of a "sh -c SCRIPT" (or bash) by its words.
func expandShell(argv []string) []string {
	var out []string
	for i := 0; i < len(argv); i++ {
		shell := path.Base(argv[i])
		if (shell == "sh" || shell == "bash") && i+2 < len(argv) && isDashC(argv[i+1]) {
			out = append(out, shellWords(argv[i+2])...)
			i += 2
			continue
		}
		out = append(out, argv[i])
	}
	return out
}

// isDashC matches "-c" and combined flags such as "-ec" or "-xc".
func isDashC(s string) bool {
	return strings.HasPrefix(s, "-") && !strings.HasPrefix(s, "--") && strings.HasSuffix(s, "c")
}

// shellWords splits a script into words and operators. It knows quotes and
// the operators that end a command (; & | && || and newlines), which is all
// that is needed to find one command and its flags; it is not a shell parser.
func shellWords(script string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for _, r := range script {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			flush()
		case r == ';' || r == '&' || r == '|' || r == '\n' || r == '(' || r == ')':
			flush()
			words = append(words, ";")
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	flush()
	return words
}

func isShellOperator(w string) bool { return w == ";" }

// shutdownTimeout reads Sidekiq's "-t N", "-tN", "--timeout N" or
// "--timeout=N" from the words of its command. ok is false when none is
// given; a value that is not a number is reported as found but invalid.
func shutdownTimeout(words []string) (value string, ok bool) {
	for i, w := range words {
		switch {
		case (w == "-t" || w == "--timeout") && i+1 < len(words):
			return words[i+1], true
		case strings.HasPrefix(w, "--timeout="):
			return strings.TrimPrefix(w, "--timeout="), true
		case strings.HasPrefix(w, "-t") && len(w) > 2 && isDigits(w[2:]):
			return w[2:], true
		}
	}
	return "", false
}

func isDigits(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}
