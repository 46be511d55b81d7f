"""The operator console (``/console``) and the customers' data-usage page (``/my-data/{link}``).

Server-rendered pages over the same operator functions the JSON API calls (chalicelib/api).
Only ``routes`` is imported with app.py; the template engine and everything a page needs
are imported when a page is rendered, so API cold starts do not pay for the console.
"""
