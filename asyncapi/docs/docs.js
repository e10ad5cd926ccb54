// Starts Swagger UI on /docs over /openapi.json (an external file: the page's CSP allows no inline script).
// Swagger UI itself is swagger-ui-dist, pinned in package.json and copied next to this file by the web build.
/* global SwaggerUIBundle */
window.addEventListener("DOMContentLoaded", () => {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    tryItOutEnabled: true,
    // No validator badge: it would send the document to validator.swagger.io.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
