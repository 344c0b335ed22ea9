import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../app-env';
import { scriptNonce } from '../middleware/security-headers';
import { createRouter, jsonContent } from '../openapi';
import { PACKAGE_ASSETS, serveFile } from '../ui/package-assets';

type OpenApiDocument = ReturnType<OpenAPIHono['getOpenAPI31Document']>;

const DOCUMENT_INFO = {
  openapi: '3.1.0',
  info: {
    title: 'Shop backend API',
    version: '1.0.0',
    description:
      'The storefront contract (API.md): success `{data, meta?}`, errors `{error, message, details?}`. ' +
      'Authenticate with `Authorization: Bearer <token>` from POST /api/v1/auth/login.',
  },
};

const openapiJson = createRoute({
  method: 'get',
  path: '/openapi.json',
  tags: ['Operations'],
  summary: 'This OpenAPI 3.1 document, generated from the zod schemas that validate requests',
  responses: {
    200: jsonContent(z.record(z.string(), z.unknown()), 'The OpenAPI document'),
  },
});

// Scalar's bundle, from the package; fonts and telemetry off so nothing is fetched from the internet,
// and nothing that leads to Scalar's hosted services: no MCP generator, no "open in the API client"
// button, no "Powered by" links (hidden by CSS: no option removes them), no live link to another site
// (the CSS leaves them as text). The built-in request client sends straight from the browser to this
// origin (no proxy is configured).
// (The container is not called #api-reference: Scalar would also mount its default config there.)
const OFFLINE_CSS = [
  'a[href*="scalar.com"] { display: none !important; }',
  // Other absolute links (MDN for a status code) stay as text. (No URL in the page: see openapi.test.ts.)
  'a[href^="http:"], a[href^="https:"], a[href^="//"] { pointer-events: none; color: inherit; text-decoration: none; }',
].join(' ');

const docsPage = (nonce: string) => `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Shop API reference</title>
</head>
<body>
  <div id="reference"></div>
  <script src="/docs/scalar.js"></script>
  <script nonce="${nonce}">
    Scalar.createApiReference('#reference', {
      url: '/openapi.json',
      // Without a slug this Scalar version never leaves its loading skeleton.
      slug: 'shop',
      tagsSorter: 'alpha',
      withDefaultFonts: false,
      telemetry: false,
      showDeveloperTools: 'never',
      agent: { disabled: true },
      mcp: { disabled: true },
      hideClientButton: true,
      customCss: ${JSON.stringify(OFFLINE_CSS)},
    });
  </script>
</body>
</html>`;

/**
 * Mounted at the root: `/openapi.json` (documented like any route) and the interactive reference at
 * `/docs`. `app` is the whole application, whose registry holds every mounted router's routes.
 */
export function docsRoutes(app: OpenAPIHono<AppEnv>) {
  let document: OpenApiDocument | undefined;
  return createRouter()
    .openapi(openapiJson, (c) => {
      // Routes are all mounted before the first request, so the document is built once.
      document ??= app.getOpenAPI31Document(DOCUMENT_INFO);
      return c.json(document as unknown as Record<string, unknown>, 200);
    })
    .get('/docs', (c) => c.html(docsPage(scriptNonce(c))))
    .get('/docs/scalar.js', serveFile(PACKAGE_ASSETS.scalar));
}
