export interface DashboardConfig {
  page: string;
  pages: string[];
  basePath: string;
  apiBase: string;
  dashboardApi: string;
  staticUrl: string;
  csrfToken: string;
  user: { username: string; canManageModels: boolean };
  logoutUrl: string;
}

export function readConfig(): DashboardConfig {
  const el = document.getElementById("kaleido-config");
  if (!el?.textContent) throw new Error("kaleido-config missing from the page");
  return JSON.parse(el.textContent) as DashboardConfig;
}
