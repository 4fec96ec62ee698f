// Opens the print dialog for the slip, then closes the tab.
window.addEventListener("load", () => {
  window.print();
  window.close();
});
