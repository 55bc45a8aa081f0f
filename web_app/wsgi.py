"""The module gunicorn serves: `gunicorn web_app.wsgi:app`."""

from web_app import Settings, create_app

app = create_app(Settings())
