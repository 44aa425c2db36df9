// storekit's Medusa configuration: everything comes from the environment, so one build serves
// every store (the platform sets these in the store's Deployment and setup Job).
//
//   DATABASE_URL    postgres://user:password@host:5432/db (required)
//   JWT_SECRET, COOKIE_SECRET   per store, generated once by storekit (required in production)
//   STORE_URL       the store's public URL (CORS for the storefront, admin and auth routes)
//   COOKIE_SECURE   "true" when the store is served over https (the session cookie is Secure)
//   DATABASE_SSL    "true" to talk TLS to PostgreSQL (off: the database is in the store's namespace)
//
// No Redis: the event bus, cache, locking and workflow engine are Medusa's in-process ones,
// which fit one server replica per store.
import { defineConfig, loadEnv } from "@medusajs/framework/utils"

loadEnv(process.env.NODE_ENV || "production", process.cwd())

const storeUrl = process.env.STORE_URL || "http://localhost:9000"
const cors = [storeUrl, ...(process.env.EXTRA_CORS ? process.env.EXTRA_CORS.split(",") : [])].join(",")

module.exports = defineConfig({
  projectConfig: {
    databaseUrl: process.env.DATABASE_URL,
    databaseDriverOptions: {
      connection: { ssl: process.env.DATABASE_SSL === "true" ? { rejectUnauthorized: false } : false },
    },
    http: {
      storeCors: cors,
      adminCors: cors,
      authCors: cors,
      jwtSecret: process.env.JWT_SECRET || "storekit-development-only",
      cookieSecret: process.env.COOKIE_SECRET || "storekit-development-only",
    },
    cookieOptions: { secure: process.env.COOKIE_SECURE === "true" },
  },
  admin: {
    path: "/app",
  },
})
