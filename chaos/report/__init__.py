"""Reports of chaos runs: summary.json (the contract), plots, a self-contained report.html, the
run folder, and the side-by-side comparison of resilience on and off."""
