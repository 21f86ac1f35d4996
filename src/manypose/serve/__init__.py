"""`manypose serve`: a web demo (one static page, no CDN, offline) over the estimator: the
webcam through the server or in the browser, image and video uploads, and an HTTP API."""
