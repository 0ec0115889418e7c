package doctor

import (
	"fmt"
	"strings"

	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// labelCommand is how a namespace opts in to injection.
func labelCommand(namespace string) string {
	return fmt.Sprintf("kubectl label namespace %s %s=%s", namespace, webhook.NamespaceLabel, webhook.NamespaceLabelEnabled)
}

// checkNamespaces: the webhook only sees pods of labelled namespaces.
func checkNamespaces(c *cluster) []Finding {
	if c.labelledErr != nil {
		return []Finding{unreadable(CheckNamespaces, "namespaces", c.labelledErr)}
	}
	if len(c.labelled) == 0 {
		return []Finding{{Check: CheckNamespaces, Status: Warn, Object: "namespaces",
			Detail: fmt.Sprintf("no namespace is labelled %s=%s, so no pod is injected", webhook.NamespaceLabel, webhook.NamespaceLabelEnabled),
			Hint:   labelCommand("<namespace>")}}
	}
	names := make([]string, 0, len(c.labelled))
	for _, ns := range c.labelled {
		names = append(names, ns.Name)
	}
	return []Finding{{Check: CheckNamespaces, Status: OK, Object: "namespaces",
		Detail: fmt.Sprintf("%d labelled for injection: %s", len(names), strings.Join(names, ", "))}}
}
