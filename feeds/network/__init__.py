"""The network around a child: requests to join it, and the agencies arriving in it."""
