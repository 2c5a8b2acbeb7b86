"""``kg serve``: a local web page to explore a graph, ask it questions with cited answers, and give
feedback (``app.py`` the JSON API and application, ``static/`` the page)."""
