"""fastshare's bundled fonts, installed as the package-data package ``fastshare.fonts``.

This folder holds font files only (see ``FONTS.md`` for sources, versions and hashes, ``OFL.txt``
for the licence). ``fastshare.text.fonts.bundled_font_dir()`` finds it both in an editable install
(this source folder) and in a wheel (``site-packages/fastshare/fonts``).
"""
