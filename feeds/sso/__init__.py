"""Single sign-on: who a provider's signed-in person is here, and what their sign-in proved."""
