"""The contract between the web app and the model service: the model card
schema (`card`), media types (`media`), request payload codecs (`codecs`),
prediction bodies (`predictions`) and the problem+json error body (`problems`).
Both services import it; neither re-declares it."""
