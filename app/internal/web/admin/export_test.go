package admin

// ResetJobsRunning is how many password-reset requests are still being
// worked on after their answer (the tests wait for none).
func ResetJobsRunning() int { return len(resetJobs) }
