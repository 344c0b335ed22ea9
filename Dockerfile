# The shop's image: API (`npm start`) and workers (`npm run worker`) share it.
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# A local dev-only package (the client type generator) that the lockfile names.
COPY clients/ts/generator/package.json clients/ts/generator/
RUN npm ci --no-audit --no-fund && npm cache clean --force
COPY . .
USER node
EXPOSE 3000
CMD ["npm", "start"]
