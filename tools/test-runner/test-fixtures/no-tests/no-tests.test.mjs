// Declares no test at all.
export {};
