"""The loan officer's web page and the model page: server-rendered HTML on the serving app."""
