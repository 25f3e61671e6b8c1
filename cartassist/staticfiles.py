"""The static files storage of production mode (DEBUG off).

whitenoise's compressed manifest storage (hashed names served forever, gzip and brotli
copies), with Django's rewriting of ES module imports switched on: in the hashed copy of
a module, ``import … from "./render.js"`` names ``./render.<hash>.js``, so a page that
loads a hashed entry (the console's ``main.js``) gets one consistent, cacheable set of
modules. The unhashed copies (what the widget's unhashed tag loads) are left as written.
The rewriting needs the import graph to be acyclic (tests/js/modules.test.js), and one
post-processing pass settles one level of it: the console's longest import chain is ten
modules (format → dom → feedback → connection → actions → render → cart-panel → chats →
frames → main), beyond Django's default of 5 passes. ADR 0014.
"""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class ModuleManifestStaticFilesStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
    max_post_process_passes = 20
