"""grievances."""
