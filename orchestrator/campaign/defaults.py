"""Where a campaign is stored when nobody says: the campaign file's default `store`, and every command's. A module
of its own so that the command line's help reads it without loading the campaign's models."""

DEFAULT_STORE = "sqlite:///retort.db"
