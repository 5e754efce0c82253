"""Advisory zones: Cambodia's areas (``geo``) and the server-rendered advisory map (``map``)."""
