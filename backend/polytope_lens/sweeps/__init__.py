"""Many runs at once: a grid of settings (plan), one run's recording (runner), where they run
(engines: local processes or Ray tasks), the sweep.json index and the driver that ties them."""
