"""A child's chronology (issue 17): significant posts and system events, as a page, CSV
and a paginated PDF. `sources.SOURCES` lists where entries come from."""
