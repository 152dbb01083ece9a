"""Children's records: creating, editing (with history), closing and reopening a case."""
