/** The environment variable holding the dashboard's access token (kept apart so the CLI can name it without loading the server). */
export const TOKEN_ENV = "QUEUECTL_DASHBOARD_TOKEN";
