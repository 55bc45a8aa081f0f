"""The contract between the web app and the model service (docs/README.md):
the model card schema (`card`), media types (`media`), the request payload
codecs (`codecs`: rows in, CSV and JSON bodies out and back), the answer
format (`answers`) and the problem+json error body (`problems`). Both
services import it; neither re-declares it.

It imports neither service, and no numpy: the web app's image has none.
Decoded rows are plain lists of floats; the model service makes arrays.
"""
