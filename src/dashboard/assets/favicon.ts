/** The tab icon: three stacked bars in the state colours (pending, processing, completed). */
export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
<rect x="3" y="4" width="26" height="6" rx="3" fill="#3b82f6"/>
<rect x="3" y="13" width="20" height="6" rx="3" fill="#8b5cf6"/>
<rect x="3" y="22" width="14" height="6" rx="3" fill="#16a34a"/>
</svg>
`;
