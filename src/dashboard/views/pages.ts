/**
 * The dashboard's pages, named once: the routes (routes/pages.ts), the navigation (views/layout.ts)
 * and the page script (assets/client/main.js, which picks a page by <main data-page>) all use this
 * list. It imports nothing, so the browser code's type-check (assets/tsconfig.json) can include it.
 */
export const PAGES = [
  { page: "overview", path: "/", title: "Overview" },
  { page: "jobs", path: "/jobs", title: "Jobs" },
  { page: "dlq", path: "/dlq", title: "Dead letters" },
  { page: "schedules", path: "/schedules", title: "Schedules" },
  { page: "workers", path: "/workers", title: "Workers" },
  { page: "config", path: "/config", title: "Config" },
  { page: "audit", path: "/audit", title: "Audit" },
] as const satisfies ReadonlyArray<{ page: string; path: string; title: string }>;

/**
 * The pages as named in <main data-page>: those of the navigation and one job's page (/jobs/:id),
 * which the navigation shows as part of "Jobs".
 */
export type PageName = (typeof PAGES)[number]["page"] | "job";
