"""What every context uses: config, storage, clock, errors, events, logging, metrics, jobs, SMS."""
