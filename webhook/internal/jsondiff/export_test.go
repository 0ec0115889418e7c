package jsondiff

// The tests are in package jsondiff_test: their seeds are real mutations,
// made by package webhook, which imports this one. These are the steps of
// Patch they check one by one.
var (
	PruneUnchanged    = pruneUnchanged
	SetAsideAdditions = setAsideAdditions
	RestoreAdditions  = restoreAdditions
	Diff              = diff
)
