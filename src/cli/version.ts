/** This queuectl's version, as package.json says (a test keeps the two equal; reading the file costs start-up). */
export const VERSION = "0.1.0";
