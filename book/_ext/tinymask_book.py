"""Small Sphinx fixes for the tinymask book, loaded through `sphinx.local_extensions` in _config.yml.

Checked by tests/test_book_browser.py, which fails on any console error in a real browser.
"""


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    """Keep one copy of each script.

    sphinx-thebe 0.3.1 adds its inline configuration script twice under Sphinx >= 7.2 (once with the file name None,
    once with ""), so every page declared `const THEBE_JS_URL` twice and the browser reported
    "SyntaxError: Identifier 'THEBE_JS_URL' has already been declared".
    """
    seen, scripts = set(), []
    for script in context.get("script_files", []):
        attributes = getattr(script, "attributes", {})
        key = (getattr(script, "filename", script) or "", tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            scripts.append(script)
    context["script_files"] = scripts


def setup(app):
    app.connect("html-page-context", _drop_duplicate_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
