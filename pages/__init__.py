"""The app's pages (one file each) and the Streamlit glue they share (`common`)."""
