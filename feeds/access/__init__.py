"""Who may do what to which child: the policy, grants and break-glass."""
