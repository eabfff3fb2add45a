import { defineConfig } from "prisma/config";

// Prisma 7 reads the connection from here, not from schema.prisma. `env("DATABASE_URL")` would make
// `prisma generate` fail when the variable is unset, so fall back to an empty string.
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "" },
});
