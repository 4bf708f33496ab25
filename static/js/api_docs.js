// The API docs page: Swagger UI (vendored) on /api/openapi.json; "Try it out" calls carry this
// page's CSRF token, as every state-changing call from a Sonarium page must.
"use strict";

window.SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#swagger",
  deepLinking: false,
  requestInterceptor: (request) => {
    request.headers["X-CSRF-Token"] = sonarium.csrfToken;
    return request;
  },
});
