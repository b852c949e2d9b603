"""The login form: a plain HTML page posting to ``/login`` (works without JavaScript and before any websocket).

The form is served by FastAPI rather than NiceGUI because signing in must set the session cookie in an HTTP
response; NiceGUI event handlers run over the websocket, after the response has gone.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from bogda.web.i18n import LANGUAGES, t
from bogda.web.ui import TITLE
from bogda.web.ui.layout import CJK_FONTS


def login_page(lang: str, *, next_path: str = "/", error: str | None = None, login: str = "") -> str:
    """HTML of the login form in ``lang``; ``error`` is a text key shown above the form."""
    switch = " · ".join(
        f'<strong aria-current="true">{escape(name)}</strong>'
        if code == lang
        else f'<a href="/lang/{code}?next={quote("/login?next=" + next_path, safe="/")}">{escape(name)}</a>'
        for code, name in LANGUAGES.items()
    )
    alert = f'<p class="error" role="alert">{escape(t(error, lang))}</p>' if error else ""
    html_lang = "zh-CN" if lang == "zh" else "en"
    return f"""<!DOCTYPE html>
<html lang="{html_lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(t("login.title", lang))} · bogda</title>
<style>
  body {{ margin: 0; font-family: {CJK_FONTS}; background: #eef2f7; color: #1a2b45; }}
  header {{ background: #0d47a1; color: #fff; padding: 14px 24px; font-size: 20px; font-weight: 500; }}
  main {{ display: flex; justify-content: center; padding-top: 9vh; }}
  form {{ background: #fff; padding: 28px 32px; border-radius: 6px; width: 340px;
         box-shadow: 0 2px 10px rgba(0,0,0,.12); }}
  h1 {{ font-size: 20px; margin: 0 0 18px; }}
  label {{ display: block; margin: 12px 0 4px; font-size: 14px; }}
  input {{ width: 100%; box-sizing: border-box; padding: 9px 10px; font-size: 15px; border: 1px solid #b0bccb;
          border-radius: 4px; }}
  button {{ margin-top: 20px; width: 100%; padding: 10px; font-size: 16px; background: #0d47a1; color: #fff;
           border: 0; border-radius: 4px; cursor: pointer; }}
  .error {{ background: #fdecea; color: #b71c1c; padding: 8px 10px; border-radius: 4px; font-size: 14px; }}
  .lang {{ margin-top: 16px; font-size: 13px; text-align: right; }}
  .lang a {{ color: #0d47a1; }}
</style>
</head>
<body>
<header>{escape(TITLE)}</header>
<main>
<form method="post" action="/login" autocomplete="on">
  <h1>{escape(t("login.title", lang))}</h1>
  {alert}
  <label for="login">{escape(t("login.login", lang))}</label>
  <input id="login" name="login" value="{escape(login)}" autocomplete="username" required autofocus>
  <label for="password">{escape(t("login.password", lang))}</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <input type="hidden" name="next" value="{escape(next_path)}">
  <button type="submit">{escape(t("login.submit", lang))}</button>
  <div class="lang">{switch}</div>
</form>
</main>
</body>
</html>
"""
