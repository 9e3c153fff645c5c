"""Business logic that writes the operators' domain. Views, admin and tasks call these."""
