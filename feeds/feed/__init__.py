"""A child's feed: posting, reading, acknowledging, following, mentions, notifications."""
