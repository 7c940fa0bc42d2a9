"""Chinese first, English second: the language negotiation, and a complete Chinese catalog."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "pingan" / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
HOW_TO_FIX = (
    "run `pingan makemessages -l zh_Hans --ignore=.venv --ignore=tests --no-obsolete` and translate "
    "the new entries in pingan/locale/zh_Hans/LC_MESSAGES/django.po"
)


def catalog():  # type: ignore[no-untyped-def]
    with PO.open("rb") as fh:
        return read_po(fh, locale="zh_Hans")


@pytest.mark.django_db
def test_login_page_is_chinese_by_default(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/login/").content.decode()
    assert 'lang="zh-hans"' in page
    assert "登录" in page and "用户名" in page and "密码" in page
    assert ">Log in<" not in page


@pytest.mark.django_db
def test_login_page_is_english_for_an_english_browser(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="en"' in page
    assert "Log in" in page and "Username" in page
    assert "登录" not in page


@pytest.mark.django_db
def test_language_cookie_overrides_the_browser(client) -> None:  # type: ignore[no-untyped-def]
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert "Log in" in page and "登录" not in page


@pytest.mark.django_db
def test_language_switcher_sets_the_cookie(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert response.status_code == 302 and response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert "Log in" in client.get("/login/").content.decode()
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/login/"})
    assert "登录" in client.get("/login/").content.decode()


@pytest.mark.django_db
def test_signed_in_pages_are_chinese(client, make_user) -> None:  # type: ignore[no-untyped-def]
    client.force_login(make_user("district_admin"))
    page = client.get("/").content.decode()
    assert "网格地图" in page and "组织机构" in page and "上一级" in page and "退出登录" in page
    assert "微网格" in page  # level names handed to map.js


def test_po_has_a_translation_for_every_message() -> None:
    cat = catalog()
    assert cat.locale is not None and str(cat.locale) == "zh_Hans"
    untranslated, fuzzy = [], []
    for message in cat:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(s and s.strip() for s in strings):
            untranslated.append(message.id)
        if message.fuzzy:
            fuzzy.append(message.id)
    assert not untranslated, f"empty msgstr for {untranslated}"
    assert not fuzzy, f"fuzzy entries (review and drop the flag): {fuzzy}"
    assert not cat.fuzzy, "the catalog header is marked fuzzy"
    problems = [(m.id, [str(e) for e in errors]) for m, errors in cat.check()]
    assert not problems, f"placeholders differ between msgid and msgstr: {problems}"


def test_po_translations_are_chinese() -> None:
    """A msgstr copied from the msgid (still English) is as bad as an empty one."""
    cjk = re.compile(r"[\u4e00-\u9fff]")
    english = [m.id for m in catalog() if m.id and not cjk.search(m.string if isinstance(m.string, str) else m.string[0])
               and m.id not in {"API token", "API tokens"}]
    assert not english, f"msgstr without any Chinese: {english}"


TRANS_TAG = re.compile(
    r"""{%-?\s*(?:trans|translate)\s+(?P<q>["'])(?P<id>.*?)(?P=q)(?:\s+context\s+(?P<cq>["'])(?P<ctx>.*?)(?P=cq))?""",
)


def test_every_template_and_python_message_is_in_the_catalog() -> None:
    """New user-visible strings must come with their Chinese: nothing extracted may be missing."""
    known = {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in catalog() if m.id}
    wanted: set[tuple[str | None, str]] = set()
    for template in (ROOT / "pingan").rglob("templates/**/*.html"):
        for match in TRANS_TAG.finditer(template.read_text(encoding="utf-8")):
            wanted.add((match["ctx"], match["id"]))
    keywords = {"_": None, "gettext": None, "gettext_lazy": None, "ngettext": (1, 2), "ngettext_lazy": (1, 2),
                "pgettext": ((1, "c"), 2), "pgettext_lazy": ((1, "c"), 2)}
    for _filename, _lineno, message, _comments, context in extract_from_dir(
        ROOT / "pingan", method_map=[("**/migrations/**.py", "ignore"), ("**.py", "python")], keywords=keywords,
    ):
        msgid = message if isinstance(message, str) else message[0]
        if msgid:
            wanted.add((context, msgid))
    missing = sorted(wanted - known, key=lambda x: (x[0] or "", x[1]))
    assert not missing, f"messages missing from the Chinese catalog: {missing}; {HOW_TO_FIX}"
